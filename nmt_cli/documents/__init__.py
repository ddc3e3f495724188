"""Documents above sentences: sentence splitting, over-long sentences cut to the trained
length, and HTML/XML markup carried across translation. See docs/documents.md."""

from nmt_cli.documents.translate import DocumentConfig, document_config, translate_document

__all__ = ["DocumentConfig", "document_config", "translate_document"]
