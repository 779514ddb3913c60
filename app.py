"""segcore dashboard: navigation only; each page lives in pages/."""

import streamlit as st

from pages.common import sidebar

st.set_page_config(page_title="segcore", page_icon=":material/layers:", layout="wide")

navigation = st.navigation([
    st.Page("pages/data.py", title="Data", icon=":material/photo_library:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/results.py", title="Results", icon=":material/insights:"),
    st.Page("pages/predict.py", title="Predict", icon=":material/auto_fix_high:"),
])
sidebar()
navigation.run()
