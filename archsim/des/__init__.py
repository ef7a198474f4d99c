"""The discrete-event (SimPy) engine: DRAM, DMA engines, double buffers, the array, the decoders."""
