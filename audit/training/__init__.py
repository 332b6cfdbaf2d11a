"""Training: the recipes and the one training loop, trained references, the batched shadow
ensemble and where parallel work runs (this process or a Dask cluster)."""
