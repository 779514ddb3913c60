"""Labelling in the browser: strokes rasterised into exact label maps, mask files saved
safely into the dataset, undo/redo, and the images to label next (see `segcore.uncertainty`)."""
