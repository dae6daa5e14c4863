"""Home: what Workbench does, the flow with links, where this session stands and what to do next."""

import streamlit as st

from pages import common
from workbench.ui_support import overview

common.require_app()
st.title("Workbench")
st.markdown("Fine-tune a chat model on your own support conversations and check that it got better: "
            "open the data, clean it, add reviewed variants, train on this machine (or through OpenAI), "
            "then compare the tuned model with the base one before you ship it. Everything you do here is a "
            "run file that `workbench run` replays.")

stages = overview.flow(st.session_state)
st.subheader("The flow")
for column, stage in zip(st.columns(len(stages)), stages):
    box = column.container(border=True)
    box.page_link(stage.page, label=stage.name, icon=":material/check_circle:" if stage.done else
                  ":material/radio_button_unchecked:")
    box.caption(stage.note)

following = overview.next_step(stages)
st.subheader("Next step")
if following is None:
    st.success("Every stage is done. Compare runs on the Runs page, or start again with other data or options.")
else:
    st.page_link(following.page, label=f"{following.name}: {following.note}", icon=":material/arrow_forward:")
