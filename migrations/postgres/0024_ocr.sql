-- Passages read by OCR from a scan or a photo carry their page's
-- confidence (Tesseract's mean word confidence, 0-100); NULL: the file's
-- own text. A document OCR could not read with confidence everywhere is
-- 'needs_review' (its confident pages searchable, the rest for staff).
ALTER TABLE document_passages ADD COLUMN ocr_confidence INTEGER;
