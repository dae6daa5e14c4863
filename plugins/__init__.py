"""Built-in Workbench plugins: registered exactly like third-party plugins."""
