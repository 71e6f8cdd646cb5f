"""What every package shares: the one error tree (``errors``), the settings
(``settings``) and the injectable clock (``clock``)."""
