"""Everything that reads tensor data, grown out of `core.stats`.

- `sources`: chunk sources (plain reads, inflate, protobuf, dequantise, strided), bounded chunks;
- `kernels`: what one unit of statistics work computes (moments, pattern counts, histogram
  counts, radix-select digits); `diff`: the comparison kernel (sums of two aligned streams);
- `pool`: the worker-process pool;
- `spectrum`: eigenvalue spectra of weight matrices and their heavy-tail metrics;
- `sides`, `transforms`, `pairing`, `lora`, `compare`: comparing two checkpoints, with
  `compare.compare` its public function. Statistics keep theirs in `core.stats`.
"""
