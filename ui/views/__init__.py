"""Figures, tables and page helpers built from engine results (plotly, pandas, PIL); no widgets."""
