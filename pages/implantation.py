import streamlit as st
st.title("En construction")
