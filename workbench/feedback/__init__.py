"""Close the loop: serve local models to testers, store their exchanges and feedback, export it as data.

- :mod:`workbench.feedback.store`: the SQLite store (WAL; one file per project) of testers' keys,
  exchanges and feedback
- :mod:`workbench.feedback.server`: ``workbench serve``, OpenAI-compatible chat completions (streamed)
  with feedback endpoints
- :mod:`workbench.feedback.export`: supervised rows and preference pairs from the feedback
"""
