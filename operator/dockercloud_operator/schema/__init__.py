"""What a Service resource is: the pydantic models (the one source of the CRD schema), the CRD
and admission policy generated from them, and the API's names and constants."""
