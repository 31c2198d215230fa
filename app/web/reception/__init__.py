"""The reception page (index.html, reception.js, reception.css), shipped as package data."""
