"""Workbench in the browser: navigation only; each page lives in pages/ and its logic in workbench/."""

import streamlit as st

st.set_page_config(page_title="Workbench", layout="wide")
st.navigation([
    st.Page("pages/data.py", title="Data", icon=":material/table:", default=True),
    st.Page("pages/clean.py", title="Clean", icon=":material/cleaning_services:"),
    st.Page("pages/augment_scenarios.py", title="Augment and scenarios", icon=":material/auto_awesome:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/evaluate.py", title="Evaluate and compare", icon=":material/compare:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/history:"),
    st.Page("pages/plugin_list.py", title="Plugins", icon=":material/extension:", url_path="plugins"),
]).run()
