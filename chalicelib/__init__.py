"""Data layer and services of the URL shortener API."""
