"""Dialects: one module per operator's wire format over the shared domain. See DIALECTS.md."""
