"""segcore dashboard: navigation only; each page lives in app_pages/.

Not in pages/: Streamlit serves a folder of that name as pages of its own (without this
navigation and sidebar) to the first visit of a fresh server that opens a page's URL.
"""

import streamlit as st

from app_pages.common import sidebar

st.set_page_config(page_title="segcore", page_icon=":material/layers:", layout="wide")

navigation = st.navigation([
    st.Page("app_pages/data.py", title="Data", icon=":material/photo_library:", default=True),
    st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("app_pages/results.py", title="Results", icon=":material/insights:"),
    st.Page("app_pages/predict.py", title="Predict", icon=":material/auto_fix_high:"),
    st.Page("app_pages/label.py", title="Label", icon=":material/brush:"),
])
sidebar()
navigation.run()
