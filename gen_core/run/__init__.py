"""Where a run lives and what it is made of: the run folder's layout, its files, records and
checkpoints, the writer that listens to training, its live status, and the collection of runs."""
