"""UI-independent helpers behind the Streamlit pages (no streamlit import here).

Pages stay thin: they draw widgets and call these functions, which are tested
without a browser. See ``docs/ui.md``.
"""
