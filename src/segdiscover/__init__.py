"""segdiscover."""
