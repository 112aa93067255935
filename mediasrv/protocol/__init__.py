"""What the server and the site agent share, standard library only: the manifest document format
(`document`), Beijing time (`china`), the category taxonomy (`taxonomy`).

The site agent runs on village PCs and imports nothing of the server but this package (an
import-linter contract in pyproject.toml holds the line), so it stays small and cheap to start.
"""
