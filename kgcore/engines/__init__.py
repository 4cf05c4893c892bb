"""Other engines that train kgcore's models: their runs come back as ordinary run folders."""
