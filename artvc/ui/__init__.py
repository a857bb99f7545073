"""The dashboard of ``art ui`` (TEMP stand-in from h/uiserver; uidata owns this file)."""
