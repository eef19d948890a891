import json
from pathlib import Path

query = Path("sql/report.sql").read_text().strip()
print(f"would run: {query}")
print("::" + json.dumps({"outputs": {"words": len(query.split())}}) + "::")
