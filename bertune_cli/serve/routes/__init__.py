"""One module per contract: blog + LibreTranslate (POST /translate, told apart by body shape),
explain, health/metrics, and the web page."""

__all__ = ["blog", "call", "explain", "files", "libre", "ops", "page", "translate"]
