"""Captions of a programme's film: uploaded files and the upload's own subtitle streams, kept as
checked WebVTT, published as subtitle renditions beside the mobile ladder, and indexed for search."""
