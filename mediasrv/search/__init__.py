"""Search over the published catalog (Whoosh, Chinese-aware), fed from the catalog and the study lists."""
