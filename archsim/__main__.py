from archsim.cli import main

raise SystemExit(main())
