"""Every session-state key the pages share, in one place.

Pages read and write ``st.session_state`` only through these names, so a
test can seed a page's inputs and two pages never disagree on a spelling.
"""

#: the pipeline being composed (:class:`workbench.ui_support.pipeline.Pipeline`)
PIPELINE = "wb_pipeline"
#: folder holding run folders (default: ``$WORKBENCH_RUNS`` or ``./runs``)
RUNS_DIR = "wb_runs_dir"
#: run folder whose latest step output the pages show
RUN_DIR = "wb_run_dir"
#: parquet file the Data page browses
TABLE_PATH = "wb_table_path"
#: the opened file's validation (:class:`workbench.ui_support.data.Opened`)
VALIDATION = "wb_validation"
#: the last cleaners/augmenters tried on a sample (list of :class:`workbench.ui_support.review.Tried`)
PREVIEW = "wb_preview"
#: rows generated for review on the Augment page (canonical polars table)
CANDIDATES = "wb_candidates"
#: review decisions of the Augment page: row id -> "accept" | "reject" | {"prompt", "reference"} (an edit)
DECISIONS = "wb_decisions"
#: run folder of the background training job the Train page follows
JOB_RUN_DIR = "wb_job_run_dir"
#: (run folder A, run folder B) the Evaluate page compares
COMPARE = "wb_compare"
#: ledger of the last saved review (accepted, edited, rejected rows; polars frame)
REVIEW_LEDGER = "wb_review_ledger"
#: the Train page's last pre-flight estimate (local: figures dict; OpenAI: summary line)
PREFLIGHT = "wb_preflight"
#: the Clean page's last preview (list of :class:`workbench.ui_support.review.Tried`), apart from the Augment page's
CLEAN_PREVIEW = "wb_clean_preview"
#: the cleaners chosen on the Clean page and their options (name -> options), kept while other pages are open
CLEAN_CHOICE = "wb_clean_choice"
#: a cleaning result waiting for confirmation because a step dropped too much (dict, see pages/clean.py)
CLEAN_PENDING = "wb_clean_pending"
#: the Clean page's running tasks: the sample preview, and the whole-table check before applying (with its stage)
CLEAN_PREVIEW_TASK = "wb_clean_preview_task"
CLEAN_CHECK_TASK = "wb_clean_check_task"
CLEAN_CHECK_STAGE = "wb_clean_check_stage"
#: the pipeline run a page started in the app's process: {"id": task id, "steps": n, "done": message function}
RUN_TASK = "wb_run_task"
#: id of this browser session (also in the URL as ?session=), naming its folder under <runs>/.sessions/
SESSION_ID = "wb_session_id"
#: what was last written for this session (see :func:`workbench.ui_support.session.save`)
SESSION_MEMO = "wb_session_memo"
#: the Train page's running local pre-flight (a task id of :mod:`workbench.ui_support.tasks`)
PREFLIGHT_TASK = "wb_preflight_task"
#: why the last local pre-flight could not run (its rough figures are in PREFLIGHT)
PREFLIGHT_ERROR = "wb_preflight_error"
#: the Experiments page's variants (list of ``[[variants]]`` dicts, docs/experiments.md)
EXPERIMENT_VARIANTS = "wb_experiment_variants"
#: the Experiments page's running pre-flight (a task id of :mod:`workbench.ui_support.tasks`)
EXPERIMENT_PREFLIGHT_TASK = "wb_experiment_preflight_task"
#: the Playground's tester name (names the tester in the feedback store)
TESTER = "wb_tester"
#: the Playground's conversations: model name -> list of {"role", "content"} (each model keeps its own context)
PLAYGROUND_CHATS = "wb_playground_chats"
#: the Playground's last turn: model name -> exchange id (what the feedback buttons refer to)
PLAYGROUND_LAST = "wb_playground_last"
#: the blind reviewer's name on the Evaluate page (also in the URL as ?voter=)
VOTER = "wb_voter"
#: the Data page's audit of the browsed table: {"path", "share", "task"} while it runs, then {"path", "share", "audit"}
DATA_AUDIT = "wb_data_audit"
