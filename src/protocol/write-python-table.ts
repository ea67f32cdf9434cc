// `npm run gen:protocol`: writes the Python side's message table.
import { writeFileSync } from "node:fs";
import { PYTHON_TABLE_PATH, pythonTableText } from "./python-table.js";

writeFileSync(PYTHON_TABLE_PATH, pythonTableText());
process.stdout.write(`wrote ${PYTHON_TABLE_PATH}\n`);
