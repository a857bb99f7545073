"""Git hook handlers and their installer; thin, they return exit codes (no click)."""
