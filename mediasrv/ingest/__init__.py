"""Upload, probe, transcode and publish of media assets."""
