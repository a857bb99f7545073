/* TEMP stand-in */
