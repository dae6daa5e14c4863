"""Plugins: what is loaded, from where, versions, hooks, components and their options."""

import streamlit as st

from pages import common
from workbench.ui_support import plugins_info

common.require_app()
st.title("Plugins")
host = common.host()
st.subheader("Loaded plugins")
st.dataframe(plugins_info.plugins_table(host).to_pandas(), hide_index=True, key="plugins_table")

st.subheader("Components")
kind = st.selectbox("Kind", [None, *plugins_info.kinds(host)], format_func=lambda k: "all" if k is None else k,
                    key="plugins_kind")
components = plugins_info.components_table(host, kind)
st.dataframe(components.to_pandas(), hide_index=True, key="plugins_components")

names = [f"{k}/{n}" for k, n in components.select("kind", "name").iter_rows()]
picked = st.selectbox("Options of", names, key="plugins_component")
if picked:
    ckind, cname = picked.split("/", 1)
    component = host.registry.get(ckind, cname)
    st.caption(component.description)
    st.dataframe(plugins_info.options_table(component).to_pandas(), hide_index=True, key="plugins_options")
    with st.expander("The form the other pages draw from these options"):
        st.json(common.options_form(component, f"plugins_form_{ckind}_{cname}_") or {})
