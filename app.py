"""Workbench in the browser: navigation, the session kept across reloads and the header every page shows;
each page lives in pages/ and its logic in workbench/."""

import streamlit as st

from pages import common

st.set_page_config(page_title="Workbench", layout="wide")
navigation = st.navigation([
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/data.py", title="Data", icon=":material/table:"),
    st.Page("pages/clean.py", title="Clean", icon=":material/cleaning_services:"),
    st.Page("pages/augment_scenarios.py", title="Augment and scenarios", icon=":material/auto_awesome:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/evaluate.py", title="Evaluate and compare", icon=":material/compare:"),
    st.Page("pages/playground.py", title="Playground", icon=":material/forum:"),
    st.Page("pages/experiments.py", title="Experiments", icon=":material/science:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/history:"),
    st.Page("pages/plugin_list.py", title="Plugins", icon=":material/extension:", url_path="plugins"),
])
common.start_session()
common.header()
try:
    navigation.run()
finally:  # also when the page stops or reruns early: the session survives a reload either way
    common.save_session()
