"""The application around the library: the CLI, the notebook runner and its engine, the report, the bench, and
the widgets. Nothing below :mod:`shortcutlab.app` imports it."""
