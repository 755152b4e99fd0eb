# placeholder: the verify branch provides this file
