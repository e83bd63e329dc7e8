"""Progress displays (a widget in a kernel, a tqdm bar elsewhere) and what drives them."""
