"""The app's parts (``app.py`` builds the page from them); ``lingua_core`` is the library they call.

One module per tab -- ``compress_tab`` (the form, the side-by-side view, the export), ``explore_tab`` (ratio
sweeps), ``batch_tab`` (a file of prompts), ``downstream_tab`` (the "Downstream answers" section) -- and what
they share: ``form`` (inputs -> Request, the scorer allow-list), ``option_fields`` (a method's options as form
fields), ``pipeline`` (model work with progress, one call at a time), ``heatmap`` (per-token numbers),
``views`` (HTML and text), ``viz`` (plotly figures, the only plotly importer), ``savings`` (dollars) and
``examples`` (the ready-made prompts in ``assets/examples``). Nothing in ``lingua_core`` imports from here.
"""
