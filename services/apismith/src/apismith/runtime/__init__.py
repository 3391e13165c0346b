"""The runtime: execute a saved API page by page, or stream all of its rows."""
