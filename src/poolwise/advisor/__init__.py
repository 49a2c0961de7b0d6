"""The advisor: a short probe and an explicit cost model pick backend, workers and chunksize."""
