"""Playground: chat with one model or two side by side (streamed); rate, correct, comment, prefer."""

import streamlit as st

from pages import common
from workbench.errors import WorkbenchError
from workbench.ui_support import keys, playground

common.require_app()


@st.cache_resource(show_spinner="Loading the models...")
def chat_models(models: tuple[tuple[str, str], ...]):
    """Loaded once per server process and shared by every session (one generation at a time per model)."""
    from workbench.feedback.server import ChatModels

    return ChatModels(dict(models))


st.title("Playground")
st.caption("Try models the way users will; every exchange and your feedback go to the project's feedback store "
           "(PII-redacted), for `workbench feedback export` and the next round of training.")
store = playground.store_for(common.runs_dir())
available = playground.available_models(common.runs_dir())
extra = st.text_input("Other model folders (optional, comma-separated)", key="pg_extra_model",
                      help="transformers model or LoRA adapter folders, each optionally NAME=FOLDER")
for spec in filter(None, (s.strip() for s in extra.split(","))):
    from workbench.feedback.models import served_model

    try:
        name, ref = served_model(spec)
        available[name] = ref
    except WorkbenchError as exc:
        common.show_error(exc)
tester = st.text_input("Your name (tester)", key=keys.TESTER, help="names you in the feedback; ask your team lead "
                       "for a key if you test through `workbench serve` instead")
picked = st.multiselect("Models (one, or two side by side)", list(available), max_selections=2,
                        default=list(available)[:1], key="pg_models")
max_tokens = st.slider("Longest answer (tokens)", 16, 512, 128, key="pg_max_tokens")
temperature = st.slider("Temperature (0 = greedy, the same answer every time)", 0.0, 1.5, 0.0, 0.1,
                        key="pg_temperature")
if not tester.strip() or not picked:
    st.info("Give your name and pick a model to start.")
    st.stop()

chats = st.session_state.setdefault(keys.PLAYGROUND_CHATS, {})
last = st.session_state.setdefault(keys.PLAYGROUND_LAST, {})
if st.button("New conversation", key="pg_reset"):
    chats.clear()
    last.clear()
chat = chat_models(tuple((m, available[m]) for m in picked))
prompt = st.chat_input("Ask something", key="pg_prompt")
columns = st.columns(len(picked))
for model, column in zip(picked, columns):
    with column:
        st.subheader(model)
        history = chats.setdefault(model, [])
        for message in history:
            with st.chat_message(message["role"]):
                st.text(message["content"])  # stored text is shown as text, never as markup
        if prompt:
            from workbench.lm.generation import DecodeSettings

            history.append({"role": "user", "content": prompt})
            with st.chat_message("user"):
                st.text(prompt)
            with st.chat_message("assistant"):
                def logged(exchange_id: str, answer: str, model: str = model, history: list = history) -> None:
                    last[model] = exchange_id
                    history.append({"role": "assistant", "content": answer})

                try:
                    st.write_stream(playground.stream_reply(
                        chat, store, tester=tester.strip(), model=model, conversation=list(history),
                        settings=DecodeSettings(max_new_tokens=max_tokens, temperature=temperature,
                                                batch_size=1), on_logged=logged))
                except WorkbenchError as exc:
                    common.show_error(exc)

if not last:
    st.stop()
st.divider()
st.subheader("Feedback on the last answers")
for model, column in zip(picked, st.columns(len(picked))):
    exchange_id = last.get(model)
    if not exchange_id:
        continue
    with column:
        st.caption(f"{model} · exchange `{exchange_id}`")
        up, down = st.columns(2)
        rating = 1 if up.button("Good answer", key=f"pg_up_{model}") else 0 if down.button(
            "Bad answer", key=f"pg_down_{model}") else None
        stars = st.select_slider("Score (1-5)", [1, 2, 3, 4, 5], value=3, key=f"pg_stars_{model}")
        correction = st.text_area("Corrected answer", key=f"pg_fix_{model}")
        comment = st.text_input("Comment", key=f"pg_comment_{model}")
        items = []
        if rating is not None:
            items.append(("rating", {"rating": rating, "scale": "thumbs"}))
        if st.button("Save score, correction and comment", key=f"pg_save_{model}"):
            items.append(("rating", {"rating": stars, "scale": "1-5"}))
            items += [(kind, {"text": text}) for kind, text in (("correction", correction), ("comment", comment))
                      if text.strip()]
        try:
            for kind, fields in items:
                playground.give_feedback(store, exchange_id, tester.strip(), kind, **fields)
            if items:
                st.success(f"Saved: {', '.join(kind for kind, _ in items)}")
        except WorkbenchError as exc:
            common.show_error(exc)
# a preference compares two answers to one conversation: the first turn, or histories that stayed the same
if len(picked) == 2 and all(last.get(m) for m in picked) and chats[picked[0]][:-1] == chats[picked[1]][:-1]:
    better = st.radio("Which answer is better?", picked, horizontal=True, index=None, key="pg_better")
    if st.button("Save preference", key="pg_prefer", disabled=better is None):
        worse = next(m for m in picked if m != better)
        try:
            playground.give_feedback(store, last[better], tester.strip(), "preference", other_id=last[worse])
            st.success(f"Saved: {better} preferred over {worse}")
        except WorkbenchError as exc:
            common.show_error(exc)
