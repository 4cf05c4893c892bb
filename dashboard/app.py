"""kgcore dashboard entry point: ``streamlit run dashboard/app.py``."""
import streamlit as st

st.set_page_config(page_title="KG bias explorer", layout="wide")
st.title("Social bias in knowledge graph embeddings")
st.info("The dashboard pages are being built; the kgcore library and CLI work today (`python -m kgcore --help`).")
