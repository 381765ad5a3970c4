"""The Streamlit dashboard: `shop serve dashboard` runs app/streamlit_app.py (pages in app/views/)."""
