"""The command lines: `dockercloud-operator` (`main`) and `kubectl dcs` (`dcs`)."""
