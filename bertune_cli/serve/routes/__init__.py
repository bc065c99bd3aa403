"""One module per contract: blog + LibreTranslate (POST /translate, told apart by body shape),
explain, health/metrics, and the web page."""
