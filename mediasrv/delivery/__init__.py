"""HLS delivery to terminal sites and players."""
