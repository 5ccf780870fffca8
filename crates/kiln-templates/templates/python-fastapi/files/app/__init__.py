"""The generated web app; see main.py."""
