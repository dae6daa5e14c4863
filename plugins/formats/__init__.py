"""Built-in data formats: readers and writers for every supported file layout.

Registered exactly like a third-party format plugin would be. See
``docs/formats.md`` for each format's layout, detection and options.
"""

from __future__ import annotations

from workbench.hookspecs import hookimpl
from workbench.plugins.formats.chat import (
    OpenAIChatReader,
    OpenAIChatWriter,
    WorkbenchJsonlReader,
    WorkbenchJsonlWriter,
)
from workbench.plugins.formats.pairs import (
    AlpacaReader,
    AlpacaWriter,
    PromptCompletionReader,
    PromptCompletionWriter,
    PromptResponseReader,
    PromptResponseWriter,
)
from workbench.plugins.formats.sharegpt import ShareGPTReader, ShareGPTWriter
from workbench.plugins.formats.tabular import CsvReader, CsvWriter, ParquetReader, ParquetWriter

READERS = (OpenAIChatReader, WorkbenchJsonlReader, PromptCompletionReader, PromptResponseReader, AlpacaReader,
           ShareGPTReader, CsvReader, ParquetReader)
WRITERS = (OpenAIChatWriter, WorkbenchJsonlWriter, PromptCompletionWriter, PromptResponseWriter, AlpacaWriter,
           ShareGPTWriter, CsvWriter, ParquetWriter)


@hookimpl
def register_readers(register):
    for reader in READERS:
        register(reader)


@hookimpl
def register_writers(register):
    for writer in WRITERS:
        register(writer)
