"""Where models live: bundled with scribe, in the Hugging Face cache, in scribe's data directory."""
