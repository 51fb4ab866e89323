import { defineOpco } from './common.ts';

// Procedure not published in source doc 000: the generic renewal text applies.
export default defineOpco({ id: 'opcoep', name: 'Opco EP' });
